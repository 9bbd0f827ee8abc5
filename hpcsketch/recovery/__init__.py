"""Recovery from linear sketches: transpose desketch, heavy hitters, FIHT."""
