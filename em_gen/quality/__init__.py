"""The quality gate: IRC parsing -> rules (one module per family, in rules/) -> judge -> verdict;
and `--validate` of any training file."""
