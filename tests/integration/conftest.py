"""The live hub's fixtures (``tests.live``) are registered for every suite by the root conftest:
one live server per run, whichever folders run."""
