"""`python -m tools.inspect DATA_DIR COMMAND`: the same as the `shale-inspect` script."""

from tools.inspect.cli import console_main

console_main()
