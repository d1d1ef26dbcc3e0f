"""The application layer: one module per `harness` command, the leaderboard publisher and the demo."""
