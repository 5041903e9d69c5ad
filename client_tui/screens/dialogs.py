"""Small modal dialogs: order confirmation and order replace."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

__all__ = ["ConfirmScreen", "ReplaceScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """Asks a yes/no question; ``y``/Enter confirm, ``n``/escape refuse."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("enter", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send (y)", variant="success", id="yes")
                yield Button("Cancel (n)", variant="error", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Mouse answer."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Keyboard answer."""
        self.dismiss(yes)


class ReplaceScreen(ModalScreen[tuple[str, str] | None]):
    """Edits price and quantity of an order; Enter submits, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client_order_id: str, price: str, qty: str) -> None:
        super().__init__()
        self.client_order_id = client_order_id
        self.price = price
        self.qty = qty

    def compose(self) -> ComposeResult:
        """Two inputs."""
        with Vertical(classes="dialog"):
            yield Static(f"Replace {self.client_order_id}", classes="dialog-question")
            yield Input(self.price, placeholder="price", id="replace-price")
            yield Input(self.qty, placeholder="qty", id="replace-qty")
            yield Static("Enter to send · esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in either field submits both."""
        price = self.query_one("#replace-price", Input).value.strip()
        qty = self.query_one("#replace-qty", Input).value.strip()
        self.dismiss((price, qty))

    def action_cancel(self) -> None:
        """Close without replacing."""
        self.dismiss(None)
