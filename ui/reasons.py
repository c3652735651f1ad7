"""Why a file was refused, in the interface's language. The loaders word their reasons in English
(the CLI prints them as they are); the library page says them in French on a French page. Known
reasons are matched by their wording; details that name things (a JSON parser's message, an OS
error) are kept as written; an unknown reason is shown unchanged rather than guessed at."""

from __future__ import annotations

import re

# What the content was found to be (index/sniff.py), in French.
_KINDS = {
    "a PDF document": "un document PDF",
    "a ZIP archive (or .docx/.odt/.epub)": "une archive ZIP (ou .docx/.odt/.epub)",
    "a gzip archive": "une archive gzip",
    "a bzip2 archive": "une archive bzip2",
    "an xz archive": "une archive xz",
    "a 7-Zip archive": "une archive 7-Zip",
    "a RAR archive": "une archive RAR",
    "a zstd archive": "une archive zstd",
    "a PNG image": "une image PNG",
    "a JPEG image": "une image JPEG",
    "a GIF image": "une image GIF",
    "an RTF document": "un document RTF",
    "an MP4/QuickTime media file": "un fichier audio/vidéo MP4/QuickTime",
    "binary data (NUL bytes)": "des données binaires (octets nuls)",
    "a FLAC audio file": "un fichier audio FLAC",
    "a Matroska/WebM video": "une vidéo Matroska/WebM",
    "a RIFF media file (WebP, WAV, AVI)": "un fichier média RIFF (WebP, WAV, AVI)",
    "a TIFF image": "une image TIFF",
    "a WebAssembly module": "un module WebAssembly",
    "an MP3 audio file": "un fichier audio MP3",
    "an Ogg media file": "un fichier média Ogg",
    "an SQLite database": "une base de données SQLite",
    "an executable (ELF)": "un exécutable (ELF)",
    "an old Microsoft Office document (.doc/.xls/.ppt)": "un ancien document Microsoft Office (.doc/.xls/.ppt)",
}
_CONTROL = re.compile(r"^binary data \((?P<share>\d+%) control characters\)$")

_FRENCH: list[tuple[re.Pattern[str], str]] = [(re.compile(p), f) for p, f in (
    (r"^binary file, not text: the content is (?P<kind>.+), whatever its extension$",
     "fichier binaire, pas du texte : son contenu est {kind}, quelle que soit son extension"),
    (r"^unsupported file type (?P<kind>.+) \(accepted: (?P<list>.+)\)$",
     "type de fichier non pris en charge {kind} (acceptés : {list})"),
    (r"^file is (?P<size>.+), over the upload limit of (?P<limit>.+) \(upload_max_bytes\)$",
     "le fichier fait {size}, au-delà de la limite d'envoi de {limit} (upload_max_bytes)"),
    (r"^file is (?P<size>.+), over the limit of (?P<limit>.+) \(max_file_bytes\)$",
     "le fichier fait {size}, au-delà de la limite de {limit} (max_file_bytes)"),
    (r"^empty file$", "fichier vide"),
    (r"^not a regular file$", "pas un fichier ordinaire"),
    (r"^file not found$", "fichier introuvable"),
    (r"^no article text found in the HTML$", "aucun texte d'article trouvé dans le HTML"),
    (r"^empty JSON list, no records$", "liste JSON vide, aucun enregistrement"),
    (r"^malformed JSON: (?P<detail>.+)$", "JSON mal formé : {detail}"),
    (r"^record (?P<n>\d+) has no 'text' field$", "l'enregistrement {n} n'a pas de champ 'text'"),
    (r"^record (?P<n>\d+) has an empty 'text' field$", "l'enregistrement {n} a un champ 'text' vide"),
    (r"^record (?P<n>\d+) is not a JSON object$", "l'enregistrement {n} n'est pas un objet JSON"),
    (r"^not valid UTF-8(?P<detail>.*)$", "pas de l'UTF-8 valide{detail}"),
    (r"^cannot read file \((?P<detail>.+)\)$", "lecture du fichier impossible ({detail})"),
    (r"^cannot store the upload \((?P<detail>.+)\)$", "enregistrement de l'envoi impossible ({detail})"),
)]

_SIZE = re.compile(r"(\d+) bytes")


def refusal_reason(reason: str, lang: str) -> str:
    """`reason` as the page's language says it; English reasons are returned as they are."""
    if lang != "fr":
        return reason
    return "; ".join(_one_in_french(part) for part in reason.split("; "))


def _one_in_french(reason: str) -> str:
    for pattern, french in _FRENCH:
        match = pattern.match(reason)
        if match:
            values = dict(match.groupdict())
            if "kind" in values:
                control = _CONTROL.match(values["kind"])
                values["kind"] = (f"des données binaires ({control['share']} de caractères de contrôle)" if control
                                  else _KINDS.get(values["kind"], values["kind"]))
            for key in ("size", "limit"):
                if key in values:
                    values[key] = _SIZE.sub(r"\1 octets", values[key])
            return french.format(**values)
    return reason
