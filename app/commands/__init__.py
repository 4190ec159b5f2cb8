"""One module per CLI mode, each with ``add_parser(subparsers)``."""
