from dataclasses import dataclass
class Options: pass
class Report: pass
def compress(): pass
