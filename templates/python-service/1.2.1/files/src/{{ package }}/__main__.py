"""`python -m <package>` starts the service on $PORT."""

from .app import main

if __name__ == "__main__":
    raise SystemExit(main())
