"""`kubectl convoy dashboard`: a live web page of Convoy's objects, served locally and acting as the caller."""

from convoy.cli.dashboard.command import register

__all__ = ["register"]
