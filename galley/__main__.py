"""`python -m galley …` is the `galley` program."""

from galley.program import run

run()
