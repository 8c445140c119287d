"""Example workflows built on chaosflow's public API."""
