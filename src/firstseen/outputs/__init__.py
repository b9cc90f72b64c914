"""What firstseen shows people and programs: JSON objects and terminal tables."""
