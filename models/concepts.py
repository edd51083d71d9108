"""Concept features: the services LABELING.md names, one count per label.

TF-IDF learns a weight per n-gram, so a service word seen once in training
("facial recognition") earns little weight, and one strong word in a long
record is diluted by the L2 norm. These features count, per label, the
phrases LABELING.md's "Counts" lists use, so all of them share one learned
weight and a record that names a defined service is scored as such even in
wording the training data never showed. They name services, never vendors:
a vendor's name alone is not evidence.
"""
from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

CONCEPTS = {
    "data_broker": (
        r"licen[cs]e[- ]plate[- ](?:reader|recognition)s?[- ](?:data|database|access|service|"
        r"subscription|quer(?:y|ies))|\ba?lpr\b[- ](?:data|database|access|quer(?:y|ies)|service|"
        r"subscription)|public[- ]records?|people[- ]search|person[- ]locator|investigative[- ]"
        r"(?:data|database|search)|credit[- ]header|utility[- ](?:data|records)|phone[- ]records|"
        r"(?:booking|arrest|jail|court)[- ](?:data|records)|criminal[- ](?:history|justice[- ]"
        r"information|records?)|location[- ]data|data[- ]broker|commercial[- ]data|"
        r"data[- ](?:feed|subscription)s?|accurint|lexisnexis[- ]risk|batch[- ](?:search|locate)|"
        r"skip[- ]trac|records?[- ](?:database|access|check)|database[- ]access|"
        # DECISIONS.md rule 1: government records about people bought for access
        r"ncic|nlets|criminal[- ]apprehension|crime[- ]information|offender[- ]based|"
        r"inmate[- ](?:database|data|records|information|locator)|birth[- ](?:records?|"
        r"verifications?|certificates?)|wage[- ](?:data|database|records)|motor[- ]vehicle[- ]"
        r"records|driver'?s?[- ]licen[cs]e[- ](?:data|records)|vital[- ]records|"
        # license-plate-reader data shared between agencies through a vendor's network
        r"detection[- ]data|contributed[- ]data|private[- ]data|nvls|national[- ]vehicle[- ]"
        r"location|cameras?\)? relationship[- ]access"),
    "extreme_vetting": (
        r"vetting|biometrics?|facial[- ](?:recognition|verification|confirmation|comparison)|"
        r"face[- ](?:recognition|matching|comparison)|finger[- ]?prints?(?:ing)?|iris[- ]"
        r"(?:scan|recognition)|\bident\b|\bhart\b|social[- ]media[- ](?:monitoring|screening|"
        r"analytics|exploitation|data)|open[- ]source[- ]intelligence|\bosint\b|link[- ]analysis|"
        r"risk[- ](?:scoring|assessment|model)|targeting|threat[- ](?:model|assessment|analysis)|"
        r"predictive|data[- ]mining|data[- ]fusion|lead[- ](?:analytics|generation|development)|"
        r"overstay|investigative[- ]case[- ]management|\bicm\b|data[- ]analytics|intelligence[- ]"
        r"analy(?:sis|sts?)|pattern[- ]analysis|name[- ]match|kinship|dna[- ]test|threat[- ]"
        r"determination|associate[- ]analysis|common[- ]plate|"
        r"identity[- ](?:verification|resolution)|(?:traveler|passenger)[- ]screening|"
        r"screening[- ]of[- ](?:travel|passeng)"),
    "detention": (
        r"detention|detainees?|detained|\bigsa\b|bed[- ]?space|processing[- ](?:center|facility|"
        r"site)|soft[- ]?sided|holding[- ](?:facility|cell)s?|custody|removal[- ]flights?|ice[- ]air|"
        r"air[- ]charter|deportation|(?:transport(?:ation)?|escort)[- ]of[- ](?:detainees|aliens|"
        r"migrants|non-?citizens)|alternatives?[- ]to[- ]detention|\batd\b|\bisap\b|"
        r"ankle[- ]monitor|electronic[- ]monitoring|family[- ]residential|staging[- ]facility|"
        r"decompression|lateral[- ](?:transfer|flight)s?|migrants?|unaccompanied|"
        r"non-?citizens?|immigrants?|"
        # goods for people held (rule 3), their health care, sites and transport (rules 2, 7)
        r"bedding|linens?|blankets?|mattress(?:es)?|hygiene|diapers?|infant[- ]formula|"
        r"tampons|sanitary[- ]napkins|caretakers?|\bihsc\b|health[- ]service[- ]corps|"
        r"service[- ]processing|\bspc\b|\bcpc\b|\bcdf\b|juvenile|\bjuvi\b|sally[- ]port|"
        r"holding[- ]cells?|hold[- ]rooms?|padded[- ]cells?|repatriation|institutional[- ]removal|"
        r"\btitle[- ]42\b|\bt42\b|flores|alien[- ]housing|housing[- ]of[- ](?:aliens|detainees)|"
        r"temporary[- ]shelters?|escort[- ]services?"),
    # What LABELING.md's "Does not count" lists and DECISIONS.md name as *not* the service:
    # one feature each, so the model can learn to weigh them against the phrases above.
    "not_data_broker": (
        r"legal[- ]research|westlaw|case[- ]law|statutes|hein[- ]?online|court[- ]electronic|"
        r"newspapers?|periodicals?|news[- ]service|weather|maps?\b|mapping|"
        r"d&b|dun[- ]&?[- ]?bradstreet|hoovers?\b|business[- ](?:data|information|credit)|"
        r"circuits?\b|data[- ]?lines?\b|t1\b|terminals?\b|machines?\b|radio|telephone|"
        r"translation|interpret"),
    "not_extreme_vetting": (
        r"cyber|network[- ]security|endpoint|malware|antivirus|intrusion[- ]detection|"
        r"help[- ]?desk|hosting|office[- ]software|payroll|human[- ]resources|financial[- ]"
        r"(?:system|management)|records[- ]management|training"),
    "not_detention": (
        r"furniture|workstations?|locker[- ]rooms?|copiers?|landscaping|grounds[- ]maintenance|"
        r"staff[- ](?:training|phones?|wellness)|golf[- ]carts?|telehandler|forklift|"
        r"office[- ](?:supplies|space|lease|renovation)|opla|inspections?|audits?|accreditation|"
        r"prea\b|gun[- ]range|firearms?|ammunition|range[- ]rental"),
}


class ConceptCounts(TransformerMixin, BaseEstimator):
    """``log(1 + number of concept phrases)`` per label, for 1-D arrays of text.

    Parameters
    ----------
    concepts : dict label -> regular expression (case-insensitive); None means
        ``CONCEPTS`` above.
    """

    def __init__(self, concepts=None):
        self.concepts = concepts

    def fit(self, X, y=None):
        concepts = self.concepts if self.concepts is not None else CONCEPTS
        self.names_ = np.array(list(concepts))
        self.patterns_ = [concepts[name] for name in self.names_]
        self.n_features_in_ = 1
        return self

    def compiled(self) -> list[re.Pattern]:
        """The patterns, for lower-cased text: anchored at a word start and
        without IGNORECASE, which makes them several times faster."""
        check_is_fitted(self)
        return [re.compile(r"\b(?:" + p + ")") for p in self.patterns_]

    @staticmethod
    def count(patterns: list[re.Pattern], text: str) -> list[int]:
        """How many phrases of each concept ``text`` holds."""
        lowered = text.lower()
        return [len(p.findall(lowered)) for p in patterns]

    def transform(self, X):
        patterns = self.compiled()
        rows = [np.log1p(self.count(patterns, str(text))) for text in X]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(patterns)))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.array([f"concept:{name}" for name in self.names_], dtype=object)
