"""`python -m abicheck`."""

from abicheck.entry import main

if __name__ == "__main__":
    main()
