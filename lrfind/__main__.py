"""`python -m lrfind` is the same as the `lrfind` command."""

from lrfind.cli.app import main

if __name__ == "__main__":
    main()
