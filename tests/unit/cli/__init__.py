"""Tests of the `kubectl convoy` plugin: golden files of what it prints, parsing, patches, exit codes."""
