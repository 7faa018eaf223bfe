"""Built-in analyzers: one module each; importing a module registers its analyzer.

To add an analyzer: write ``workstation/analysis/analyzers/<name>.py`` with a
subclass of ``workstation.analysis.base.Analyzer`` decorated with ``@register``,
and add its import below.
"""

from . import f0          # pitch.f0        (pYIN-class dominant f0)
from . import salience    # pitch.salience  (HCQT harmonic-summation multi-f0)
from . import notes       # notes           (note events from the salience)
from . import key            # key             (global + local key)
from . import beats          # beats           (beats, downbeats, tempo)
from . import embedding     # embedding       (timbre/harmony/rhythm statistics)
from . import tags          # tags            (instrument / style tags, short-chunk CNN)
