"""Push the bot's slash commands to Discord now (the bot also syncs at start-up when they changed).

python scripts/sync_commands.py            # to DEV_GUILD_IDS if set (instant), else globally
python scripts/sync_commands.py --global   # globally even when DEV_GUILD_IDS is set
python scripts/sync_commands.py --clear    # remove the commands from the same targets
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import discord
from discord import app_commands

from bot import commands
from bot.settings import Settings


async def sync(settings: Settings, *, use_global: bool, clear: bool) -> None:
    assert settings.discord_token is not None
    client = discord.Client(intents=discord.Intents.none())
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    if not clear:
        commands.register(tree)  # type: ignore[arg-type]
    guilds = [] if use_global else [discord.Object(g) for g in settings.dev_guild_ids]
    async with client:
        await client.login(settings.discord_token.get_secret_value())
        for guild in guilds or [None]:
            if guild is not None:
                tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            where = f"guild {guild.id}" if guild else "all guilds (may take up to an hour to appear)"
            print(f"{len(synced)} commands synced to {where}: {', '.join(c.name for c in synced) or '-'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--global", dest="use_global", action="store_true", help="ignore DEV_GUILD_IDS")
    parser.add_argument("--clear", action="store_true", help="remove the commands instead")
    args = parser.parse_args(argv)
    settings = Settings()
    if settings.discord_token is None:
        print("error: set DISCORD_TOKEN (in the environment or .env) to sync commands", file=sys.stderr)
        return 1
    try:
        asyncio.run(sync(settings, use_global=args.use_global, clear=args.clear))
    except discord.LoginFailure:
        print("error: Discord refused the token (DISCORD_TOKEN)", file=sys.stderr)
        return 1
    except discord.HTTPException as exc:
        print(f"error: Discord answered {exc.status}: {exc.text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
