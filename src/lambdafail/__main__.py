"""`python -m lambdafail`: the same entry point as the console script.

Rule: nothing but the call to `cli.main()`.
"""

from lambdafail.cli.main import main

if __name__ == "__main__":
    main()
