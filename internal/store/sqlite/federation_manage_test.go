package sqlite

import (
	"testing"

	"github.com/jointcell/jointcell/internal/store/storetest"
)

func TestFederationSuite(t *testing.T) {
	storetest.RunFederation(t, func(t *testing.T) storetest.FederationStore { return openTemp(t) })
}
