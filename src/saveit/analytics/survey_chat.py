"""The survey's side of the chat: the guest's rating, comment or "stop" is
answered here before the dialogue sees the message (one hook in the bot).

A message is the survey's when the conversation's latest survey is open (sent
within the week) and the message is a rating: a tapped option, or a text that
starts with 1–5 ("4", "5 de 5, todo perfecto": the rest is the comment). Right
after a rating without a comment, the next message is taken as the comment
unless the bot understands it as something else (a booking, a question).
"Stop" or "no más encuestas" after a survey opts the guest out. Anything else
goes on to the dialogue as usual. A rating of 2 or less hands the conversation
to staff.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from saveit.analytics import survey_texts as texts
from saveit.analytics.survey import LOW, WEEK, Surveys
from saveit.conversation.nlu import Parse
from saveit.domain.messages import OutboundMessage
from saveit.messaging.gateway import Reply, Turn
from saveit.store.surveys import ANSWERED, OPEN

COMMENT_WITHIN = timedelta(minutes=30)
_SURVEY_WORDS = ("encuesta", "survey")


class SurveyChat:
    def __init__(self, surveys: Surveys) -> None:
        self.surveys = surveys

    def answer(self, turn: Turn, understood: Callable[[], Parse]) -> Reply | None:
        """The reply when the message belongs to the survey; None otherwise.

        The conversation's survey is looked up only for a message that could be
        the survey's (a stop, a rating, or text the bot does not understand, which
        may be a comment): every guest message passes here, and most are not.
        ``understood``: the bot's own reading of the message, parsed when first
        asked and kept (one parse per turn, not one here and one in the dialogue)."""
        text = turn.text.strip()
        stop, picked = texts.is_stop(text), _rating(turn)

        def maybe_comment() -> bool:
            return _maybe_comment(turn, text, understood)

        if not (stop or picked is not None or maybe_comment()):
            return None
        survey = self.surveys.open_for(turn.conversation.id)
        if stop and (survey is not None or any(w in text.lower() for w in _SURVEY_WORDS)):
            self.surveys.opt_out(turn.restaurant_id, turn.identity.guest_id, turn.message.channel)
            lang = survey.language if survey else turn.conversation.language
            return _reply(texts.say("opted_out", lang), lang)
        if survey is None:
            return None
        lang = survey.language
        if survey.status == OPEN and turn.now - survey.created_at < WEEK:
            if picked is None:
                return None
            rating, comment = picked
            if not self.surveys.answer(survey, rating, comment):
                return None
            if rating <= LOW:
                reply = _reply(texts.say("sorry", lang), lang)
                reply.handoff = True
                return reply
            return _reply(texts.say("thanks_comment" if comment else "thanks", lang), lang)
        if (
            survey.status == ANSWERED
            and survey.comment is None
            and survey.answered_at is not None
            and turn.now - survey.answered_at < COMMENT_WITHIN
            and maybe_comment()
            and self.surveys.comment(survey, text)
        ):
            if survey.rating is not None and survey.rating <= LOW:
                return Reply([], language=lang)  # staff have the conversation now
            return _reply(texts.say("thanks_comment", lang), lang)
        return None


def _maybe_comment(turn: Turn, text: str, understood: Callable[[], Parse]) -> bool:
    return turn.choice is None and bool(text) and understood().intent == "unknown"


def _rating(turn: Turn) -> tuple[int, str] | None:
    if turn.choice is not None:
        if turn.choice.id.startswith("survey:"):
            return int(turn.choice.id.split(":", 1)[1]), ""
        return None
    return texts.rating_of(turn.text)


def _reply(text: str, lang: str | None) -> Reply:
    return Reply([OutboundMessage(text=text)], language=texts.lang_of(lang))
