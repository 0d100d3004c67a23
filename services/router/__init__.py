"""The country router: sends authorised requests to the country of affiliation's NCP topic."""
