"""`python -m app` runs the CLI (installed as the `harness` command)."""

from app.cli import main

if __name__ == "__main__":
    main()
