"""Model layer: the topology (pydantic), its loader, schedules, names and the compile step. Pure: no AWS, no terminal."""
