"""The one error a dataset problem surfaces as."""


class DatasetError(Exception):
    """A dataset is missing, corrupt or misconfigured.

    The message names what is wrong, where it was expected and how to fix it, so that a run
    fails with one readable line instead of a traceback from torchvision, pickle or PIL.
    """
