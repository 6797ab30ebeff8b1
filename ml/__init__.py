"""lifeboat ML core: passengers, features, training, registry and scoring."""
