"""The ``broadsheet`` command line."""
import click


@click.group()
def main() -> None:
    """Broadsheet: scheduled business reports as parameterised notebooks."""
