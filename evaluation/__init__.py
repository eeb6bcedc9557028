"""`xiaoshen eval`: scoring the bot on dev sets beside baselines (not on the runtime path)."""
