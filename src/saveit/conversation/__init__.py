"""What guests talk to: understanding (es/en), the dialogue, and its replies.

Understanding a message (pure, no I/O): :mod:`.nlu` puts together :mod:`.text`
(normalising), :mod:`.lang`, :mod:`.intents`, :mod:`.party`, :mod:`.slots`, the
day (:mod:`.dates`, :mod:`.relative_days`, :mod:`.day_names`) and the time
(:mod:`.times`, :mod:`.day_parts`), settling repeated mentions with
:mod:`.mentions` and leaving real doubts to :mod:`.ambiguity`; :mod:`.evaluate`
and :mod:`.evaluate_dates` score it on the shipped sets in ``eval/``.

The dialogue: :mod:`.bot` answers the gateway's turn; :mod:`.dialogue` reads it
(built on :mod:`.planning`, :mod:`.guest_bookings` and :mod:`.speaker`), keeps
:mod:`.state` between messages, fills requests (:mod:`.filling`), shows choices
(:mod:`.menus`) and says :mod:`.replies`; :mod:`.linking` proves a phone or
address and :mod:`.waitlist_chat` is the waitlist's part. The dialogue reaches
bookings only through :class:`.desk.Desk`, typed against :mod:`.ports`.
:mod:`.terminal` is ``saveit chat``.
"""
