package api

func (s *Server) servicesSpecs() []cbSpec { return nil }
