"""`python -m lambdafail`: the same entry point as the console script."""

from lambdafail.cli import main

if __name__ == "__main__":
    main()
