"""The ACME (RFC 8555) conversation, on the `acme` and `josepy` libraries."""
