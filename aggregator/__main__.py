from aggregator.cli import main

# Guarded: the router's model process (multiprocessing "spawn") imports this module again.
if __name__ == "__main__":
    raise SystemExit(main())
