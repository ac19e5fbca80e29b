"""The HTTP face: FastAPI app factory, routers, DTOs and the process runner."""
