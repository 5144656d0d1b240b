"""The `accessctl` CLI: one thin module per subcommand over the stages.
May import every other package; nothing imports it.
"""
