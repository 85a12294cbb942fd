"""FastAPI dependencies for the objects the lifespan creates (pool, publisher, profiles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.db import Database
from api.profiles import PlantProfiles
from api.publisher import CommandPublisher
from api.settings import ApiSettings


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _publisher(request: Request) -> CommandPublisher:
    publisher: CommandPublisher = request.app.state.publisher
    return publisher


def _profiles(request: Request) -> PlantProfiles:
    profiles: PlantProfiles = request.app.state.profiles
    return profiles


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


Db = Annotated[Database, Depends(_db)]
Publisher = Annotated[CommandPublisher, Depends(_publisher)]
Profiles = Annotated[PlantProfiles, Depends(_profiles)]
Settings = Annotated[ApiSettings, Depends(_settings)]
