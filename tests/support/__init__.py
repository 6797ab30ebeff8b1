"""What the tests share that is not a fixture: harnesses and stand-ins for what only a live service has."""
