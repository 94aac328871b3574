"""The `agent` command: one module per subcommand, assembled by main.py (`agent.cli.main:main`)."""
