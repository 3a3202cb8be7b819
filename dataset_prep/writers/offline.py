"""Deterministic rule-based writer for MovieLens texts (no LLM).

Items: an RLMRec-style summary from title, year, genres and training-rating
statistics, and an intent of the form "Attracts viewers who ...;
unattractive to viewers who ...".

Users: a summary of demographics and watched genres, and an intent
"Likes ... ; dislikes ..." from the user's training ratings (>= 4 liked,
<= 2 disliked). Only the ratings passed in are read, and the caller passes
training ratings only, so held-out interactions cannot shape any text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ..text_records import TextRecord
from .base import Movie, Rating, Viewer
from .english import capitalize_first, indefinite, join_words, quote_titles

LIKE_THRESHOLD = 4.0
DISLIKE_THRESHOLD = 2.0
MAX_GENRES = 3
MAX_TITLES = 2

# genre -> (label in a sentence, who it attracts, who it puts off)
GENRES: dict[str, tuple[str, str, str]] = {
    "Action": ("action", "enjoy fast-paced action", "prefer slow, quiet stories"),
    "Adventure": ("adventure", "like journeys and quests", "want everyday settings"),
    "Animation": ("animation", "enjoy animated features", "avoid cartoons"),
    "Children's": ("children's", "want family-friendly fun", "want mature themes"),
    "Comedy": ("comedy", "like light-hearted humour", "want only serious films"),
    "Crime": ("crime", "enjoy crime stories", "are put off by criminals and violence"),
    "Documentary": ("documentary", "seek real-world stories", "want fiction and spectacle"),
    "Drama": ("drama", "appreciate character-driven drama", "want pure escapism"),
    "Fantasy": ("fantasy", "enjoy magic and fantasy worlds", "prefer realism"),
    "Film-Noir": ("film noir", "enjoy dark, moody noir", "want upbeat entertainment"),
    "Horror": ("horror", "seek scares", "are put off by gore and fright"),
    "Musical": ("musical", "love songs and dance numbers", "dislike musicals"),
    "Mystery": ("mystery", "enjoy puzzles and whodunits", "want straightforward plots"),
    "Romance": ("romance", "enjoy love stories", "find romance tedious"),
    "Sci-Fi": ("sci-fi", "enjoy science fiction", "dislike futuristic settings"),
    "Thriller": ("thriller", "like tension and suspense", "avoid tense, nerve-racking plots"),
    "War": ("war", "are drawn to war stories", "avoid battlefield violence"),
    "Western": ("western", "enjoy westerns", "find westerns dated"),
}

# Occupation tokens that read badly as a noun after "a 30-year-old male ...".
OCCUPATION_NOUNS = {
    "entertainment": "entertainment worker",
    "healthcare": "healthcare worker",
    "marketing": "marketing professional",
    "retired": "retiree",
}


def genre_label(genre: str) -> str:
    """Lower-case label used inside sentences."""
    return GENRES.get(genre, (genre.lower(), "", ""))[0]


def top_genres(movies: Iterable[Movie], limit: int, exclude: Sequence[str] = ()) -> list[str]:
    """Most frequent genres of ``movies`` (ties broken by name for determinism)."""
    counts = Counter(g for m in movies for g in m.genres if g not in exclude)
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


class OfflineMovieWriter:
    """Template writer; bump ``version`` whenever its output changes (forces a rebuild)."""

    name = "offline"
    version = "1"

    # ---------------------------------------------------------------- items
    def write_items(self, movies: Sequence[Movie], train_ratings: Mapping[str, Sequence[Rating]]) -> list[TextRecord]:
        """One record per movie; evidence is the movie itself when its training ratings were used."""
        return [self.item_record(m, train_ratings.get(m.item_id, ())) for m in movies]

    def item_record(self, movie: Movie, ratings: Sequence[Rating]) -> TextRecord:
        """Profile and intent of one movie from its metadata and training ratings."""
        genres = list(movie.genres)
        kind = join_words([genre_label(g) for g in genres]) + " film" if genres else "film of unlisted genre"
        year = f" ({movie.year})" if movie.year is not None else ""
        profile = f"{movie.title}{year} is {indefinite(kind)}. {self._reception(ratings)}"

        attracts = [GENRES[g][1] for g in genres[:MAX_GENRES] if g in GENRES]
        repels = [GENRES[g][2] for g in genres[:MAX_GENRES] if g in GENRES]
        if ratings and len(ratings) >= 10:
            average = mean([r.rating for r in ratings])
            if average >= 4.0:
                attracts.append("seek acclaimed films")
            elif average < 2.5:
                repels.append("go by audience ratings")
        if not attracts:
            attracts = ["are open to unusual titles"]
        if not repels:
            repels = ["want a clear genre"]
        intent = f"Attracts viewers who {join_words(attracts)}; unattractive to viewers who {join_words(repels, 'or')}."
        evidence = (movie.item_id,) if ratings else ()
        return TextRecord(movie.item_id, profile, intent, evidence)

    @staticmethod
    def _reception(ratings: Sequence[Rating]) -> str:
        if not ratings:
            return "It has no ratings in the training data."
        n = len(ratings)
        average = mean([r.rating for r in ratings])
        if n >= 200:
            reach = "very widely watched"
        elif n >= 50:
            reach = "widely watched"
        elif n >= 10:
            reach = "modestly watched"
        else:
            reach = "rarely watched"
        if average >= 4.0:
            verdict = "highly rated"
        elif average >= 3.5:
            verdict = "well liked"
        elif average >= 2.5:
            verdict = "met with mixed ratings"
        else:
            verdict = "poorly rated"
        count = f"{n} rating" if n == 1 else f"{n} ratings"
        return f"{capitalize_first(reach)} and {verdict} in training ({average:.1f}/5 over {count})."

    # ---------------------------------------------------------------- users
    def write_users(
        self,
        viewers: Sequence[Viewer],
        train_ratings: Mapping[str, Sequence[Rating]],
        movies: Mapping[str, Movie],
    ) -> list[TextRecord]:
        """One record per viewer; evidence lists every training item the texts were built from."""
        return [self.user_record(v, train_ratings.get(v.user_id, ()), movies) for v in viewers]

    def user_record(self, viewer: Viewer, ratings: Sequence[Rating], movies: Mapping[str, Movie]) -> TextRecord:
        """Profile and intent of one viewer from demographics and their training ratings."""
        person = describe_person(viewer)
        if ratings:
            watched = top_genres((movies[r.item_id] for r in ratings if r.item_id in movies), MAX_GENRES)
            average = mean([r.rating for r in ratings])
            profile = f"{person} who rated {len(ratings)} films in training (average {average:.1f}/5)"
            profile += f", mostly {join_words([genre_label(g) for g in watched])}." if watched else "."
        else:
            profile = f"{person} with no training ratings."

        liked = [r for r in ratings if r.rating >= LIKE_THRESHOLD]
        disliked = [r for r in ratings if r.rating <= DISLIKE_THRESHOLD]
        liked_genres = top_genres((movies[r.item_id] for r in liked if r.item_id in movies), MAX_GENRES)
        # Drama/comedy dominate every list; naming a genre both liked and disliked says nothing.
        disliked_genres = top_genres(
            (movies[r.item_id] for r in disliked if r.item_id in movies), MAX_GENRES - 1, exclude=liked_genres
        )
        if liked:
            likes = _taste_clause("Likes", _pick_titles(liked, liked_genres, movies, True), liked_genres)
        else:
            likes = "Likes few films (none rated 4 or higher)"
        if disliked:
            examples = _pick_titles(disliked, disliked_genres, movies, False)
            dislikes = _taste_clause("dislikes", examples, disliked_genres)
        else:
            dislikes = "dislikes little (no film rated 2 or lower)"
        intent = f"{likes}; {dislikes}."
        evidence = tuple(dict.fromkeys(r.item_id for r in ratings))
        return TextRecord(viewer.user_id, profile, intent, evidence)


def _pick_titles(
    ratings: Sequence[Rating], genres: Sequence[str], movies: Mapping[str, Movie], liked: bool
) -> list[str]:
    """Up to MAX_TITLES examples: most extreme rating, then most named genres, then most recent, then id."""

    def key(r: Rating) -> tuple:
        movie = movies.get(r.item_id)
        overlap = sum(g in genres for g in movie.genres) if movie else 0
        return (-r.rating if liked else r.rating, -overlap, -r.timestamp, r.item_id)

    known = [r for r in ratings if r.item_id in movies]
    return [movies[r.item_id].title for r in sorted(known, key=key)[:MAX_TITLES]]


def _taste_clause(verb: str, titles: Sequence[str], genres: Sequence[str]) -> str:
    """'Likes drama and comedy films such as "A" and "B"'."""
    kind = f"{join_words([genre_label(g) for g in genres])} films" if genres else "films"
    return f"{verb} {kind} such as {quote_titles(titles)}" if titles else f"{verb} {kind}"


def describe_person(viewer: Viewer) -> str:
    """'A 24-year-old male technician', 'An 18-year-old woman with an unlisted occupation', ..."""
    age = f"{viewer.age}-year-old " if viewer.age is not None else ""
    gender = {"M": "male", "F": "female"}.get(viewer.gender or "", "")
    occupation = viewer.occupation
    if occupation and occupation not in ("other", "none"):
        noun = OCCUPATION_NOUNS.get(occupation, occupation)
        phrase = age + " ".join(w for w in (gender, noun) if w)
    else:
        phrase = age + {"male": "man", "female": "woman"}.get(gender, "person")
        if occupation == "none":
            phrase += " with no occupation"
        elif occupation == "other":
            phrase += " with an unlisted occupation"
    return capitalize_first(indefinite(phrase))
