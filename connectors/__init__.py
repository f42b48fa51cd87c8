"""Legacy channels. One package per channel; registered via entry points."""
