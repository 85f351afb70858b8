package filestore

// Dir returns the directory s keeps its files in, or, when that is
// unknown, the error every call returns: for a status line that says
// where the tokens are. Safe for concurrent use.
func (s *Store) Dir() (string, error) { return s.dir, s.err }
