"""``python -m saveit.cli``: the same command as the ``saveit`` script."""

from saveit.cli import main

main()
