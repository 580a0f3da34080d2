"""`python -m phr.cli` runs the `phr` command."""

from phr.cli import main

main()
