"""The `nerqa` command line (imported as `nerqa_cli`)."""
