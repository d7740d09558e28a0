"""``python -m hub`` is the ``hub`` command."""

from hub.cli.main import main

# Guarded: `hub serve --workers N` starts its workers by importing this module again (the
# "spawn" start method), and they must not run the command line a second time.
if __name__ == "__main__":
    main()
