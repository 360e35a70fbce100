"""The Mini App's side of things that is not HTTP: checking Telegram's initData."""

from services.webapp.initdata import InitData, InvalidInitData, check_init_data

__all__ = ["InitData", "InvalidInitData", "check_init_data"]
