"""Encrypted bundles that move a whole installation: the file format and its encryption (no database here;
lifecycle/bundle_*.py collect, plan and apply what a bundle holds)."""
