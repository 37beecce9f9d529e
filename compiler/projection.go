package compiler

func (r *resolver) projections() {}
