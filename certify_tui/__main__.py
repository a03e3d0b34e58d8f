from certify_tui.cli.main import main

raise SystemExit(main())
