"""tap-hrdata: a Singer tap for HR data (Talentsoft, HrFlow, YouServe, Coresignal)."""
