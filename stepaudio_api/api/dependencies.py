"""What handlers are given: the server's Services, injected by name."""

from __future__ import annotations

from litestar.di import NamedDependency

from stepaudio_api.services import Services

ServicesDependency = NamedDependency[Services]
"""A handler parameter `services: ServicesDependency` receives the one Services object."""
