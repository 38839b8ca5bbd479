"""`python -m tdxsim`: the command line (see tdxsim.cli)."""

from tdxsim.cli import main

raise SystemExit(main())
