"""alpaca_eval."""
